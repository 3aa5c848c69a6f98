//! `custos bench issue`: code-issuing throughput through the real use case
//! (`App::create_customer`: validation, code draw, customer row, registry, audit entry — one
//! transaction each) against a raw baseline of one-row counter `UPDATE … RETURNING` + commit
//! on the same database with the same durability settings.

use std::time::Instant;

use custos_app::codes::{AppliesTo, NewCodeRule};
use custos_app::customers::NewCustomer;
use custos_app::{App, AppConfig, Backend, Context, Source};
use custos_store::testing::fresh_options;
use custos_store::Db;

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

async fn fresh_db(
    backend: Backend,
    pg_url: Option<&str>,
) -> Result<(Db, Option<tempfile::TempDir>), String> {
    if backend == Backend::Postgres {
        std::env::set_var("CUSTOS_TEST_PG_URL", pg_url.unwrap_or_default());
    }
    let (opts, dir) = fresh_options(backend).ok_or("no database configured")?;
    let db = Db::open(&opts).await.map_err(|e| e.to_string())?;
    Ok((db, dir))
}

async fn issue_run(app: &App, callers: usize, per: usize) -> Result<f64, String> {
    let admin = app
        .actor_for_username("admin", Context::new(Source::System))
        .await
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..callers {
        let app = app.clone();
        let admin = admin.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per {
                app.create_customer(
                    &admin,
                    NewCustomer {
                        customer_type: "enterprise".into(),
                        name: format!("基准测试客户{w}-{i}有限公司"),
                        region_code: Some("310104".into()),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }));
    }
    for h in handles {
        h.await.map_err(|e| e.to_string())??;
    }
    Ok((callers * per) as f64 / start.elapsed().as_secs_f64())
}

pub async fn issue(
    backend: Backend,
    pg_url: Option<&str>,
    callers: &[usize],
    ops: usize,
) -> Result<(), String> {
    println!("custos bench issue — {} — backend {:?}", machine(), backend);
    println!(
        "command: custos bench issue --backend {} --callers {} --ops {ops}",
        if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        },
        callers
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    for &n in callers {
        let per = (ops / n).max(1);
        // Fresh database per run so earlier runs do not slow later ones.
        let (db, _dir) = fresh_db(backend, pg_url).await?;
        let app = App::from_db(db.clone(), AppConfig::default());
        app.ensure_builtin_roles()
            .await
            .map_err(|e| e.to_string())?;
        app.ensure_admin(Some("bench-password-1".into()))
            .await
            .map_err(|e| e.to_string())?;
        let admin = app
            .actor_for_username("admin", Context::new(Source::System))
            .await
            .map_err(|e| e.to_string())?;
        app.create_code_rule(
            &admin,
            NewCodeRule {
                key: "bench".into(),
                name: "基准".into(),
                applies_to: AppliesTo::default(),
                segments: serde_json::from_value(serde_json::json!([
                    {"kind":"constant","value":"B"},
                    {"kind":"region","level":"province"},
                    {"kind":"sequence","width":8},
                    {"kind":"check","algorithm":"mod37-2"}
                ]))
                .map_err(|e| e.to_string())?,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        app.publish_code_rule(&admin, "bench")
            .await
            .map_err(|e| e.to_string())?;
        let custos = issue_run(&app, n, per).await?;
        let start = Instant::now();
        let done = db
            .raw_counter_baseline(n, per)
            .await
            .map_err(|e| e.to_string())?;
        let raw = done as f64 / start.elapsed().as_secs_f64();
        println!(
            "callers {n:>3}: custos {custos:>8.0} codes/s   raw baseline {raw:>8.0} commits/s   ratio {:>5.1}%   ({} ops each)",
            custos * 100.0 / raw,
            n * per
        );
        let _ = db.drop_schema().await;
        db.close().await;
    }
    Ok(())
}
