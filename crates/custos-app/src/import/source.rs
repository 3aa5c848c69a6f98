//! Reading an import file as a stream of rows: the readers live in
//! [`custos_files::table`]; this module keeps the paths the use cases, the command line
//! and the fuzz targets use, with errors as [`AppError`].

use std::path::Path;

use custos_core::Violation;

use crate::error::{AppError, AppResult};
use crate::pii::PiiKey;

pub use custos_files::table::{
    delimiter_name, excel_serial_date, float_text, header_key, FileFacts, FileFormat, SourceRow,
    TextEncoding, MAX_CELL_CHARS, MAX_COLUMNS,
};

use super::limits::ImportLimits;

/// An open file: its header and a stream of data rows after it.
pub type Table = custos_files::table::Table<AppError>;

/// `,`/`comma`, `tab`/`\t`, `;`/`semicolon`, `|`/`pipe`.
pub fn parse_delimiter(s: &str) -> AppResult<char> {
    Ok(custos_files::table::parse_delimiter(s)?)
}

/// A problem with the file as a whole (HTTP 422, nothing imported).
pub(crate) fn bad_file(code: &str, zh: impl Into<String>, en: impl Into<String>) -> AppError {
    AppError::validation("file", Violation::new(code, zh, en))
}

/// Digest the file and decide its format and encoding (one streaming pass); an XLSX is
/// then unpacked once as a stream to check it against `limits`.
pub fn inspect(
    path: &Path,
    key: &PiiKey,
    format: Option<FileFormat>,
    encoding: Option<TextEncoding>,
    delimiter: Option<char>,
    limits: &ImportLimits,
) -> AppResult<FileFacts> {
    let key = key
        .file_key_for(path)
        .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
    Ok(custos_files::table::inspect(
        path, &key, format, encoding, delimiter, limits,
    )?)
}

/// Open the file and find its header: the row among the first ten with the most cells
/// `known` recognises (title rows above it are skipped).
pub async fn open_table(
    path: &Path,
    key: &PiiKey,
    facts: &FileFacts,
    sheet: Option<&str>,
    limits: &ImportLimits,
    known: impl Fn(&str) -> bool,
) -> AppResult<Table> {
    let key = key
        .file_key_for(path)
        .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
    Ok(custos_files::table::open_table(path, &key, facts, sheet, limits, known).await?)
}
