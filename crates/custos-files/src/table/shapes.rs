//! The shapes every reader of a table shares: formats, encodings, delimiters, the facts
//! found about a file, a source row, and the bounds on columns and cells.

use custos_core::Violation;
use tokio::sync::mpsc;

use crate::error::{bad_file, FilesError, FilesResult};

/// Longest accepted cell (characters); longer cells reject their row.
pub const MAX_CELL_CHARS: usize = 10_000;
/// Most columns of a file.
pub const MAX_COLUMNS: usize = 500;
/// Rows looked at to find the header row (title rows above it are skipped).
pub(super) const HEADER_SCAN_ROWS: usize = 10;

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

    pub(crate) fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Gb18030 => encoding_rs::GB18030,
            TextEncoding::Utf16Le => encoding_rs::UTF_16LE,
            TextEncoding::Utf16Be => encoding_rs::UTF_16BE,
        }
    }

    pub(crate) fn is_utf16(self) -> bool {
        matches!(self, TextEncoding::Utf16Le | TextEncoding::Utf16Be)
    }
}

/// Cell separators of CSV (and tab-separated text) files.
pub(super) const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

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
pub(super) fn delimiter_byte(c: char) -> FilesResult<u8> {
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

pub(super) fn too_many_columns(line: u64, n: usize) -> FilesError {
    bad_file(
        "import.too_many_columns",
        format!("第 {line} 行有 {n} 列，最多 {MAX_COLUMNS} 列"),
        format!("row {line} has {n} columns; at most {MAX_COLUMNS}"),
    )
}
