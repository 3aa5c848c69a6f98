//! What `custos doctor` finds and how it says it: the status of a finding, the report in
//! the reader's language, and the file-system facts both halves of the checks read.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check's outcome: what was found and, unless fine, what to do.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub(crate) check: &'static str,
    pub(crate) status: Status,
    pub(crate) message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

/// The language of the messages.
#[derive(Clone, Copy)]
pub(crate) struct Lang(pub(crate) bool);

impl Lang {
    /// The Chinese or the English text.
    pub(crate) fn t(self, zh: impl Into<String>, en: impl Into<String>) -> String {
        if self.0 {
            en.into()
        } else {
            zh.into()
        }
    }
}

/// The findings so far.
pub(crate) struct Report {
    pub(crate) lang: Lang,
    pub(crate) findings: Vec<Finding>,
}

impl Report {
    pub(crate) fn add(&mut self, check: &'static str, status: Status, message: String) {
        self.findings.push(Finding {
            check,
            status,
            message,
            fix: None,
        });
    }

    pub(crate) fn add_fix(
        &mut self,
        check: &'static str,
        status: Status,
        message: String,
        fix: String,
    ) {
        self.findings.push(Finding {
            check,
            status,
            message,
            fix: Some(fix),
        });
    }
}

/// The path itself, or its nearest ancestor that exists (for the disk of a directory
/// not created yet).
pub(crate) fn existing_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .find(|p| p.exists() && !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .or_else(|| Some(PathBuf::from(".")))
}

/// The permission bits of a file's metadata.
pub(crate) fn mode_of(meta: &std::fs::Metadata) -> u32 {
    meta.permissions().mode() & 0o7777
}

/// The owner's uid.
pub(crate) fn owner_of(meta: &std::fs::Metadata) -> u32 {
    meta.uid()
}
