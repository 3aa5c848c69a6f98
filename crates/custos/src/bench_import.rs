//! `custos bench import`: import a generated CSV of N synthetic Chinese customers through
//! the real use case (validation, normalisation, in-file duplicate grouping, code issue,
//! indexes, history, audit) into a fresh SQLite database, optionally on top of M existing
//! customers imported first, then export everything to CSV and XLSX. Prints rows/s and
//! the process's peak resident memory (VmHWM) after each phase.

use crate::output::outln;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use custos_app::demo_data::DemoCustomers;
use custos_app::import::ImportOptions;
use custos_app::{App, AppConfig, Context, DbOptions, Source};

use crate::bench_common::{machine, peak_rss_mib, time_exports, BENCH_PASSWORD};

/// Write `rows` customers as a UTF-8 CSV with the Chinese headers of the template.
fn write_csv(path: &Path, rows: u64, seed: u64, tag: &str) -> Result<u64, String> {
    let f = custos_files::private_files::create(path).map_err(|e| e.to_string())?;
    let mut w = std::io::BufWriter::new(f);
    let today = chrono::Utc::now().date_naive();
    let mut gen = DemoCustomers::new(seed, today);
    let io = |e: std::io::Error| e.to_string();
    writeln!(
        w,
        "客户类型,客户名称,统一社会信用代码,身份证号,手机,所属行业,地区,地址,成立日期,客户等级,客户来源,联系人,联系人手机"
    )
    .map_err(io)?;
    for i in 0..rows {
        let c = gen.next_customer();
        // Synthetic enterprise names repeat; number them so rows are distinct customers.
        let name = if c.customer_type == "enterprise" {
            format!("{tag}{i}号{}", c.name)
        } else {
            c.name.clone()
        };
        let contact = c.contacts.first();
        let cells = [
            if c.customer_type == "enterprise" {
                "企业客户"
            } else {
                "个人客户"
            }
            .to_string(),
            name,
            c.uscc.clone().unwrap_or_default(),
            c.id_number.clone().unwrap_or_default(),
            c.mobile.clone().unwrap_or_default(),
            c.industry.clone().unwrap_or_default(),
            c.region_code.clone().unwrap_or_default(),
            c.address.clone().unwrap_or_default(),
            c.established_on.clone().unwrap_or_default(),
            c.level.clone().unwrap_or_default(),
            c.source.clone().unwrap_or_default(),
            contact.and_then(|x| x.name.clone()).unwrap_or_default(),
            contact.and_then(|x| x.mobile.clone()).unwrap_or_default(),
        ];
        writeln!(w, "{}", cells.join(",")).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
}

/// What `custos bench import` measures.
pub struct Options {
    pub rows: u64,
    pub existing: u64,
    pub chunk: usize,
    /// Work (and stay) here instead of in a temporary directory.
    pub dir: Option<PathBuf>,
    pub exports: bool,
}

pub async fn import(o: &Options) -> Result<(), String> {
    let (rows, existing, chunk) = (o.rows, o.existing, o.chunk);
    outln!("custos bench import — {}", machine());
    let mut command =
        format!("custos bench import --rows {rows} --existing {existing} --chunk {chunk}");
    if let Some(d) = &o.dir {
        command.push_str(&format!(" --dir {}", d.display()));
    }
    if !o.exports {
        command.push_str(" --no-exports");
    }
    outln!("command: {command}");
    let temp;
    let dir: &Path = match &o.dir {
        Some(d) => {
            custos_files::private_files::create_dir_all(d)
                .map_err(|e| format!("{}: {e}", d.display()))?;
            d
        }
        None => {
            temp = tempfile::tempdir().map_err(|e| e.to_string())?;
            temp.path()
        }
    };
    // A kept directory's database gets its key as `custos serve --data-dir` would, so it
    // can be opened again.
    let mut config = AppConfig::default();
    if o.dir.is_some() {
        config.pii_key = crate::config::pii_key_of(dir)?;
    }
    let app = App::open(&DbOptions::sqlite(dir), config)
        .await
        .map_err(|e| e.to_string())?;
    app.auth()
        .ensure_admin(Some(BENCH_PASSWORD.into()))
        .await
        .map_err(|e| e.to_string())?;
    let admin = app
        .auth()
        .actor_for_username("admin", Context::new(Source::Cli))
        .await
        .map_err(|e| e.to_string())?;
    app.demo()
        .ensure_default_code_rules(&admin)
        .await
        .map_err(|e| e.to_string())?;

    for (label, n, seed, tag) in [
        ("existing", existing, 7, "存量"),
        ("import", rows, 2026, ""),
    ] {
        if n == 0 {
            continue;
        }
        let file = dir.join(format!("{label}.csv"));
        let t = Instant::now();
        let bytes = write_csv(&file, n, seed, tag)?;
        outln!(
            "generated {label}.csv: {n} rows, {:.1} MiB in {:.1} s",
            bytes as f64 / 1048576.0,
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let out = app
            .imports()
            .import_file(
                &admin,
                &file,
                ImportOptions {
                    file_name: format!("{label}.csv"),
                    chunk_rows: chunk,
                    ..Default::default()
                },
                &|_| {},
            )
            .await
            .map_err(|e| e.to_string())?;
        let secs = t.elapsed().as_secs_f64();
        let r = &out.report;
        outln!(
            "{label}: read {} created {} skipped {} rejected {} in {secs:.1} s = {:.0} rows/s; peak RSS {:.0} MiB",
            r.read,
            r.created,
            r.skipped,
            r.rejected,
            r.read as f64 / secs,
            peak_rss_mib()
        );
    }
    if o.exports {
        time_exports(&app, &admin, dir).await?;
    }
    app.db.close().await;
    Ok(())
}
