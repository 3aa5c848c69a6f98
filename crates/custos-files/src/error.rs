//! The error of reading and writing files: what a use case needs to tell the user (a
//! violation naming the part, cell or field, in both languages) without this crate
//! knowing how the use cases report errors. `custos-app` turns it into its `AppError`.

use custos_core::Violation;

/// What went wrong with a file, or with an option about one.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The file (or an option describing it) cannot be read as given: `field` names the
    /// input (`file`, `delimiter`); HTTP 422 with the violation listed under it.
    #[error("invalid {field}: {}", .violation.code)]
    Invalid {
        field: &'static str,
        violation: Violation,
    },
    /// The file is refused as a whole (a backup that is damaged, foreign or cannot be
    /// written): HTTP 422 with the violation's own code.
    #[error("rejected: {}", .0.code)]
    Rejected(Violation),
    /// A failure that is not the file's fault (a reader thread gone, key derivation).
    #[error("internal error: {0}")]
    Internal(String),
}

pub type FilesResult<T> = Result<T, FilesError>;

impl FilesError {
    /// A problem with `field` (an import option).
    pub fn invalid(field: &'static str, violation: Violation) -> FilesError {
        FilesError::Invalid { field, violation }
    }
}

/// A problem with an import file as a whole (HTTP 422, nothing imported).
pub fn bad_file(code: &str, zh: impl Into<String>, en: impl Into<String>) -> FilesError {
    FilesError::invalid("file", Violation::new(code, zh, en))
}

/// An XLSX file that calamine or the ZIP reader cannot read.
pub fn xlsx_malformed(e: impl std::fmt::Display) -> FilesError {
    bad_file(
        "import.xlsx_malformed",
        format!("XLSX 文件损坏或格式不正确：{e}"),
        format!("the XLSX file is damaged or malformed: {e}"),
    )
}
