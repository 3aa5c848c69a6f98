//! The import jobs this process is running. A job whose row says `running` but that no
//! process runs was stopped (a crash, a restart) and may be resumed; one that runs here
//! must not be started a second time beside itself.

use crate::import::Imports;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use custos_core::Violation;

use crate::error::{AppError, AppResult};

#[derive(Default)]
pub(crate) struct RunningImports(Mutex<HashSet<i64>>);

/// A job claimed by this process; dropping it lets the job go.
pub(crate) struct ImportClaim {
    set: Arc<RunningImports>,
    id: i64,
}

impl Drop for ImportClaim {
    fn drop(&mut self) {
        let mut ids = self.set.0.lock().unwrap_or_else(|p| p.into_inner());
        ids.remove(&self.id);
    }
}

impl Imports<'_> {
    /// Whether this process is running import job `id` now.
    pub fn import_running_here(&self, id: i64) -> bool {
        let ids = self
            .app
            .running_imports
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        ids.contains(&id)
    }

    /// Claim job `id` for this process; refused while it runs here already.
    pub(crate) fn claim_import(&self, id: i64) -> AppResult<ImportClaim> {
        let mut ids = self
            .app
            .running_imports
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !ids.insert(id) {
            return Err(AppError::Conflict(Violation::new(
                "import.running",
                format!("导入任务 #{id} 正在运行，不能再次开始"),
                format!("import job #{id} is running; it cannot be started again"),
            )));
        }
        Ok(ImportClaim {
            set: self.app.running_imports.clone(),
            id,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_is_claimed_once_until_its_claim_goes() {
        let (app, _admin, _dir) = crate::test_support::app_with_admin().await;
        let claim = app.imports().claim_import(7).unwrap();
        assert!(app.imports().import_running_here(7));
        assert!(
            app.imports().claim_import(7).is_err(),
            "a second run of the same job"
        );
        assert!(app.imports().claim_import(8).is_ok());
        drop(claim);
        assert!(!app.imports().import_running_here(7));
        assert!(app.imports().claim_import(7).is_ok());
    }
}
