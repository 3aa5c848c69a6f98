//! What `custos bench` needs below the use cases: a fresh database to measure on, and the
//! raw baseline the code-issuing benchmark compares custos against. No use case calls
//! these. Errors are plain text, as the benchmarks print them.

use crate::demo::Demo;
use crate::{App, AppConfig, Backend, Db, DbOptions};

/// An app with `config` on a fresh database on `backend` — a temporary SQLite directory
/// (returned: keep it as long as the app) or a new schema on the PostgreSQL server at
/// `pg_url` — with the built-in roles and nothing else.
pub async fn open_fresh_app(
    backend: Backend,
    pg_url: Option<&str>,
    config: AppConfig,
) -> Result<(App, Option<tempfile::TempDir>), String> {
    let (opts, dir) = DbOptions::fresh(backend, pg_url).ok_or("no database configured")?;
    let db = Db::open(&opts).await.map_err(|e| e.to_string())?;
    let app = App::from_db(db, config);
    app.org()
        .ensure_builtin_roles()
        .await
        .map_err(|e| e.to_string())?;
    Ok((app, dir))
}

impl Demo<'_> {
    /// Benchmark baseline on this app's database: `callers` tasks each run `UPDATE …
    /// RETURNING` on one counter row and commit, `per_caller` times, with the same pools
    /// and durability settings custos uses. Returns the number of commits.
    pub async fn bench_raw_counter_baseline(
        &self,
        callers: usize,
        per_caller: usize,
    ) -> Result<u64, String> {
        self.app
            .db
            .raw_counter_baseline(callers, per_caller)
            .await
            .map_err(|e| e.to_string())
    }

    /// Benchmark: seconds of `commits` one-row write transactions without and with
    /// `per_commit` events each (see `Db::raw_event_commit_cost`).
    pub async fn bench_event_commit_cost(
        &self,
        commits: usize,
        per_commit: usize,
    ) -> Result<(f64, f64), String> {
        self.app
            .db
            .raw_event_commit_cost(commits, per_commit)
            .await
            .map_err(|e| e.to_string())
    }

    /// Benchmark: fill the event log with `total` events about customers owned by
    /// `owner_id` in `department_id`, 1,000 per transaction.
    pub async fn bench_fill_events(
        &self,
        total: usize,
        owner_id: Option<i64>,
        department_id: Option<i64>,
    ) -> Result<(), String> {
        self.app
            .db
            .bench_fill_events(total, 1000, owner_id, department_id)
            .await
            .map_err(|e| e.to_string())
    }

    /// Queue one open group of two customers per hundred loaded (at most 10,000), as scans
    /// and imports leave them; the pages' cost does not depend on how alike the members are.
    pub async fn bench_queue_groups(&self, codes: &[String]) -> Result<Vec<i64>, String> {
        let n = (codes.len() / 100).clamp(1, 10_000);
        let step = (codes.len() / (2 * n)).max(1);
        let mut ids = Vec::with_capacity(n);
        let mut tx = self.app.db.begin().await.map_err(|e| e.to_string())?;
        for g in 0..n {
            let (x, y) = (2 * g * step, 2 * g * step + 1);
            let (Some(a), Some(b)) = (codes.get(x), codes.get(y)) else {
                break;
            };
            let mut members = Vec::new();
            for code in [a, b] {
                let row = tx.customer_by_code(code).await.map_err(|e| e.to_string())?;
                members.extend(row.map(|r| r.id));
            }
            members.sort_unstable();
            if members.len() < 2 {
                continue;
            }
            let row = custos_store::duplicates::DuplicateGroupRow {
                id: 0,
                status: "open".into(),
                fingerprint: format!("{members:?}"),
                score: 0.95,
                pairs: serde_json::json!([[members[0], members[1], 0.95]]).to_string(),
                scan_id: None,
                created_at: custos_store::now_us(),
                decided_at: None,
                decided_by: None,
                decision_reason: None,
                merge_id: None,
                source: "scan".into(),
                customer_type: None,
            };
            let id = tx
                .insert_duplicate_group(&row, &members)
                .await
                .map_err(|e| e.to_string())?;
            ids.extend(id);
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        if ids.is_empty() {
            return Err("no duplicate groups queued".into());
        }
        Ok(ids)
    }
}
