//! Sealed files (uploads, exports): the format lives in [`custos_files::sealed`]; the key
//! is the PII key's file key ([`crate::pii::PiiKey`] gives one). This module keeps the
//! old paths and the deletion of kept files, which logs.

use std::path::Path;

pub use custos_files::sealed::*;

/// Delete a file kept by custos (an upload, an export) that may already be gone; other
/// failures are logged as about `what` (a file left behind is at worst disk space: the
/// start-up tidying and the export sweep try again).
pub(crate) async fn remove_kept_file(path: &Path, what: &str) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot delete {what}"),
    }
}
