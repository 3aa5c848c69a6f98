//! What `custos bench` needs below the use cases: a fresh database to measure on, and the
//! raw baseline the code-issuing benchmark compares custos against. No use case calls
//! these. Errors are plain text, as the benchmarks print them.

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
    app.ensure_builtin_roles()
        .await
        .map_err(|e| e.to_string())?;
    Ok((app, dir))
}

impl App {
    /// Benchmark baseline on this app's database: `callers` tasks each run `UPDATE …
    /// RETURNING` on one counter row and commit, `per_caller` times, with the same pools
    /// and durability settings custos uses. Returns the number of commits.
    pub async fn bench_raw_counter_baseline(
        &self,
        callers: usize,
        per_caller: usize,
    ) -> Result<u64, String> {
        self.db
            .raw_counter_baseline(callers, per_caller)
            .await
            .map_err(|e| e.to_string())
    }
}
