//! Import and export through the use cases with the real files of
//! `tests/fixtures/import/`, on SQLite and (when CUSTOS_TEST_PG_URL is set) PostgreSQL.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use custos_app::export::{ExportFormat, ExportOptions};
use custos_app::import::report::{write_rejected, write_sample, ReportFormat};
use custos_app::import::{
    DuplicatePolicy, ImportOptions, ImportOutcome, MappingSpec, PreparedImport, ReportedRow,
    TextEncoding,
};
use custos_app::sealed;
use custos_app::search::CustomerQuery;
use custos_app::{AppError, AuditFilter};
use custos_core::violation::Lang;

#[path = "support/app.rs"]
#[macro_use]
mod app;
use app::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/import"
    ))
    .join(name)
}

fn opts(name: &str) -> ImportOptions {
    ImportOptions {
        file_name: name.into(),
        ..Default::default()
    }
}

async fn import(t: &T, name: &str, o: ImportOptions) -> Result<ImportOutcome, AppError> {
    t.app
        .imports()
        .import_file(&t.admin, &fixture(name), o, &|_| {})
        .await
}

async fn count(t: &T) -> i64 {
    let mut tx = t.db.db.begin_read().await.unwrap();
    let n = tx.count_customers().await.unwrap();
    tx.rollback().await.unwrap();
    n
}

async fn audit_count(t: &T) -> usize {
    t.app
        .audit()
        .list_audit(
            &t.admin,
            AuditFilter {
                limit: 100_000,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .len()
}

async fn by_name(t: &T, name: &str) -> custos_app::customers::CustomerView {
    let page = t
        .app
        .customers()
        .search_customers(
            &t.admin,
            CustomerQuery {
                name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "one customer named {name}");
    t.app
        .customers()
        .get_customer(&t.admin, &page.items[0].code)
        .await
        .unwrap()
}

async fn job_rows(t: &T, job: i64, outcome: &str) -> Vec<ReportedRow> {
    t.app
        .imports()
        .import_job_rows(&t.admin, job, outcome, 0, 1000)
        .await
        .unwrap()
}

fn file_error(r: Result<ImportOutcome, AppError>) -> (String, String) {
    match r {
        Err(AppError::Validation(f)) => (f[0].field.clone(), f[0].violation.code.clone()),
        Err(AppError::Rejected(v)) => ("".into(), v.code),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("bad file was accepted"),
    }
}

both!(gbk_csv_as_excel_saves_it, |t| {
    let out = import(&t, "customers_gbk.csv", opts("customers_gbk.csv"))
        .await
        .unwrap();
    let r = &out.report;
    let rej = job_rows(&t, r.job_id.unwrap(), "rejected").await;
    assert!(
        rej.is_empty(),
        "{:?}",
        rej.first().map(|x| x.detail.to_string())
    );
    assert_eq!(r.encoding.as_deref(), Some("gb18030"));
    assert_eq!((r.read, r.created, r.rejected), (10, 10, 0));
    assert_eq!(r.status, "done");
    assert_eq!(count(&t).await, 10);
    let c = by_name(&t, "北京云帆贸易").await;
    // 有限责任公司 normalised, 北京市朝阳区 resolved to its code, value kept.
    assert_eq!(c.region_code.as_deref(), Some("110105"));
    assert_eq!(c.level.as_deref(), Some("潜在客户"));
    assert_eq!(c.customer_type, "enterprise");
    let p = by_name(&t, "张三").await;
    assert_eq!(p.customer_type, "individual");
    assert!(p.pii_masked || p.id_number.is_some());
});

both!(utf8_bom_csv, |t| {
    let out = import(&t, "customers_utf8_bom.csv", opts("x.csv"))
        .await
        .unwrap();
    assert_eq!(out.report.encoding.as_deref(), Some("utf-8"));
    assert_eq!(out.report.created, 10);
    assert_eq!(
        out.report.columns[0].field.as_deref(),
        Some("customer_type")
    );
});

both!(xlsx_title_row_merged_header_serial_dates, |t| {
    let out = import(&t, "customers.xlsx", opts("customers.xlsx"))
        .await
        .unwrap();
    let r = &out.report;
    assert_eq!(r.sheet.as_deref(), Some("客户清单"));
    assert_eq!(r.header_row, 2);
    assert_eq!((r.created, r.rejected), (3, 0));
    assert!(r.unknown_columns.is_empty());
    let c = by_name(&t, "上海启明信息技术").await;
    assert_eq!(c.established_on.as_deref(), Some("2018-06-01"));
    assert_eq!(c.registered_capital, Some(500.0));
    assert_eq!(c.contacts[0].name, "王经理");
    let c = by_name(&t, "上海远航国际货运").await;
    assert_eq!(c.established_on.as_deref(), Some("2018-06-02"));
});

both!(bad_rows_of_every_class_rejected_alone, |t| {
    let out = import(&t, "bad_rows.csv", opts("bad_rows.csv"))
        .await
        .unwrap();
    let r = &out.report;
    assert_eq!((r.read, r.created, r.rejected), (11, 1, 10));
    assert_eq!(r.unknown_columns, vec!["说明".to_string()]);
    let job = r.job_id.unwrap();
    let rejected = job_rows(&t, job, "rejected").await;
    let codes: Vec<(u64, Vec<String>)> = rejected
        .iter()
        .map(|row| {
            let errs = row.detail["errors"].as_array().cloned().unwrap_or_default();
            (
                row.line,
                errs.iter()
                    .map(|e| {
                        format!(
                            "{}:{}",
                            e["header"].as_str().unwrap(),
                            e["code"].as_str().unwrap()
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let expect: &[(u64, &str)] = &[
        (2, "客户名称:"),
        (3, "统一社会信用代码:"),
        (4, "手机:"),
        (5, "地区:"),
        (6, "成立日期:date.future"),
        (7, "所属行业:"),
        (8, "客户类型:customer_type.unknown"),
        (9, "客户名称:"),
        (10, "身份证号:"),
        (11, "联系电话:import.cell_too_long"),
    ];
    for (line, prefix) in expect {
        let (_, errs) = codes
            .iter()
            .find(|(l, _)| l == line)
            .unwrap_or_else(|| panic!("line {line} not rejected: {codes:?}"));
        assert!(
            errs.iter().any(|e| e.starts_with(prefix)),
            "line {line}: {errs:?} lacks {prefix}"
        );
    }
    // The rejected-rows file: original cells plus one reason column per failing field;
    // fixed and re-imported, it is read with the same columns (reasons ignored).
    let dir = tempfile::tempdir().unwrap();
    for ext in ["csv", "xlsx"] {
        let p = dir.path().join(format!("rejected.{ext}"));
        write_rejected(&p, &out.headers, &rejected).unwrap();
        let again = t
            .app
            .imports()
            .import_file(
                &t.admin,
                &p,
                ImportOptions {
                    dry_run: true,
                    ..opts("rejected")
                },
                &|_| {},
            )
            .await
            .unwrap();
        assert_eq!(again.report.read, 10, "{ext}");
        assert_eq!(again.report.rejected, 10, "{ext}");
        assert_eq!(
            again.report.unknown_columns,
            vec!["说明".to_string()],
            "{ext}"
        );
    }
    let text = std::fs::read_to_string(dir.path().join("rejected.csv")).unwrap();
    let head = text.lines().next().unwrap();
    assert!(
        head.starts_with("\u{feff}原行号,客户类型,客户名称"),
        "{head}"
    );
    assert!(head.contains("错误:统一社会信用代码"), "{head}");
});

both!(duplicates_inside_the_file_are_grouped, |t| {
    let out = import(&t, "duplicates.csv", opts("duplicates.csv"))
        .await
        .unwrap();
    assert_eq!((out.report.created, out.report.skipped), (3, 2));
    let skipped = job_rows(&t, out.report.job_id.unwrap(), "skipped").await;
    let of: Vec<(u64, u64)> = skipped
        .iter()
        .map(|r| (r.line, r.detail["duplicate_of_line"].as_u64().unwrap()))
        .collect();
    assert_eq!(of, vec![(5, 2), (6, 3)]);
});

both!(dry_run_writes_nothing, |t| {
    let before = audit_count(&t).await;
    let out = import(
        &t,
        "bad_rows.csv",
        ImportOptions {
            dry_run: true,
            sample_rate: 1.0,
            ..opts("bad_rows.csv")
        },
    )
    .await
    .unwrap();
    assert_eq!(out.report.job_id, None);
    assert_eq!((out.report.created, out.report.rejected), (1, 10));
    assert_eq!(
        out.rows.iter().filter(|r| r.outcome == "rejected").count(),
        10
    );
    assert_eq!(
        out.rows.iter().filter(|r| r.outcome == "sampled").count(),
        1
    );
    assert_eq!(count(&t).await, 0);
    assert_eq!(audit_count(&t).await, before);
});

both!(mapping_file_value_maps_defaults_and_update_policy, |t| {
    let spec =
        MappingSpec::parse(&std::fs::read_to_string(fixture("mapping.toml")).unwrap()).unwrap();
    let o = ImportOptions {
        mapping: spec.clone(),
        sample_rate: 1.0,
        ..opts("legacy.csv")
    };
    let out = import(&t, "legacy.csv", o.clone()).await.unwrap();
    assert_eq!(out.report.created, 2, "{:?}", out.report);
    assert_eq!(out.report.unknown_columns, vec!["无用列".to_string()]);
    let c = by_name(&t, "深圳前海微众测试").await;
    assert_eq!(c.level.as_deref(), Some("新客户"));
    assert_eq!(c.source.as_deref(), Some("历史数据迁移"));
    let x = t
        .app
        .sources()
        .lookup_xref(&t.admin, "legacy_crm", "L-001")
        .await
        .unwrap();
    assert_eq!(x.code, c.code);
    // Sampling file: source values next to stored ones.
    let sampled = job_rows(&t, out.report.job_id.unwrap(), "sampled").await;
    assert_eq!(sampled.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    write_sample(&dir.path().join("s.csv"), &out.headers, &sampled).unwrap();
    let s = std::fs::read_to_string(dir.path().join("s.csv")).unwrap();
    assert!(s.contains("客户分类,潜在客户,新客户,否"), "{s}");

    // Again with `update`: matched by the source-system id, updated, nothing created.
    let mut spec2 = spec.clone();
    spec2
        .values
        .get_mut("level")
        .unwrap()
        .insert("潜在客户".into(), "重点客户".into());
    let out = import(
        &t,
        "legacy.csv",
        ImportOptions {
            mapping: spec2,
            policy: DuplicatePolicy::Update,
            ..opts("legacy.csv")
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (out.report.created, out.report.updated),
        (0, 2),
        "{:?}",
        out.report
    );
    assert_eq!(count(&t).await, 2);
    let c = by_name(&t, "深圳前海微众测试").await;
    assert_eq!(c.level.as_deref(), Some("重点客户"));
    // With `skip`, the same customers are found by the duplicate check: skipped.
    let out = import(&t, "legacy.csv", o).await.unwrap();
    assert_eq!((out.report.created, out.report.skipped), (0, 2));
    assert_eq!(count(&t).await, 2);
});

both!(bad_files_are_refused_before_anything_is_written, |t| {
    let before = audit_count(&t).await;
    let cases: &[(&str, ImportOptions, &str)] = &[
        ("empty.csv", opts("e"), "import.file_empty"),
        ("binary.csv", opts("b"), "import.encoding_invalid"),
        ("no_name_column.csv", opts("n"), "import.column_missing"),
        ("not_really.xlsx", opts("x.xlsx"), "import.xlsx_malformed"),
        ("truncated.xlsx", opts("t"), "import.xlsx_malformed"),
        (
            "customers_gbk.csv",
            ImportOptions {
                encoding: Some(TextEncoding::Utf8),
                ..opts("g")
            },
            "import.encoding_invalid",
        ),
        (
            "customers.xlsx",
            ImportOptions {
                sheet: Some("没有这张表".into()),
                ..opts("s")
            },
            "import.sheet_unknown",
        ),
        (
            "customers.xlsx",
            ImportOptions {
                sheet: Some("说明".into()),
                ..opts("s2")
            },
            "import.column_missing",
        ),
        (
            "customers_gbk.csv",
            ImportOptions {
                sample_rate: 3.0,
                ..opts("r")
            },
            "import.sample_rate",
        ),
        (
            "customers_gbk.csv",
            ImportOptions {
                chunk_rows: 0,
                ..opts("c0")
            },
            "import.chunk_rows",
        ),
        (
            "customers_gbk.csv",
            ImportOptions {
                chunk_rows: custos_app::import::MAX_CHUNK_ROWS + 1,
                ..opts("c1")
            },
            "import.chunk_rows",
        ),
    ];
    for (file, o, code) in cases {
        let (_, got) = file_error(import(&t, file, o.clone()).await);
        assert_eq!(&got, code, "{file}");
    }
    let bad_mapping = MappingSpec::parse("[columns]\n\"单位\" = \"no_such_field\"\n").unwrap();
    let (field, code) = file_error(
        import(
            &t,
            "customers_gbk.csv",
            ImportOptions {
                mapping: bad_mapping,
                ..opts("m")
            },
        )
        .await,
    );
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("mapping", "import.mapping_invalid")
    );
    assert!(matches!(
        MappingSpec::parse("columns = 3"),
        Err(AppError::Validation(_))
    ));
    assert!(DuplicatePolicy::parse("overwrite").is_err());
    assert_eq!(count(&t).await, 0);
    assert_eq!(audit_count(&t).await, before);
});

both!(template_has_headers_and_lists, |t| {
    let bytes = t.app.imports().import_template(&t.admin).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("template.xlsx");
    std::fs::write(&p, bytes).unwrap();
    // The template is itself importable: headers recognised, the help row skipped.
    let out = t
        .app
        .imports()
        .import_file(
            &t.admin,
            &p,
            ImportOptions {
                dry_run: true,
                ..opts("template.xlsx")
            },
            &|_| {},
        )
        .await
        .unwrap();
    assert!(
        out.report.unknown_columns.is_empty(),
        "{:?}",
        out.report.unknown_columns
    );
    assert_eq!((out.report.read, out.report.help_row), (0, Some(2)));
});

/// A small file of rows that are duplicates of two customers of customers_gbk.csv
/// (same USCC), with an e-mail those customers lack and a variant of the name.
async fn duplicate_rows(t: &T, dir: &std::path::Path) -> PathBuf {
    let a = by_name(t, "北京星河科技").await;
    let b = by_name(t, "北京云帆贸易").await;
    let p = dir.join("again.csv");
    std::fs::write(
        &p,
        format!(
            "客户类型,客户名称,统一社会信用代码,邮箱,标签\n企业客户,北京星河科技股份有限公司,{},a@xinghe.cn,重点\n企业客户,北京云帆贸易有限公司,{},b@yunfan.cn,\n",
            a.uscc.unwrap(),
            b.uscc.unwrap()
        ),
    )
    .unwrap();
    p
}

both!(duplicates_in_the_database_under_each_policy, |t| {
    import(&t, "customers_gbk.csv", opts("g")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = duplicate_rows(&t, dir.path()).await;
    let run = |policy: DuplicatePolicy| {
        let (app, admin, file) = (t.app.clone(), t.admin.clone(), file.clone());
        async move {
            app.imports()
                .import_file(
                    &admin,
                    &file,
                    ImportOptions {
                        policy,
                        sample_rate: 0.0,
                        ..opts("again.csv")
                    },
                    &|_| {},
                )
                .await
                .unwrap()
                .report
        }
    };
    // skip: nothing written.
    let r = run(DuplicatePolicy::Skip).await;
    assert_eq!((r.created, r.skipped, r.rejected), (0, 2, 0), "{r:?}");
    let skipped = job_rows(&t, r.job_id.unwrap(), "skipped").await;
    assert_eq!(skipped[0].detail["reason"], "duplicate_in_database");
    assert_eq!(count(&t).await, 10);
    // merge: the existing customers keep their values and gain the missing ones.
    let r = run(DuplicatePolicy::Merge).await;
    assert_eq!((r.created, r.merged, r.rejected), (0, 2, 0), "{r:?}");
    assert_eq!(count(&t).await, 10);
    let a = by_name(&t, "北京星河科技").await;
    assert_eq!(a.name, "北京星河科技有限公司");
    assert!(a.email.is_some());
    assert!(
        a.former_names
            .contains(&"北京星河科技股份有限公司".to_string()),
        "{:?}",
        a.former_names
    );
    assert!(a.tags.contains(&"重点".to_string()));
    // review: created as pending, each with its duplicate group queued.
    let r = run(DuplicatePolicy::Review).await;
    assert_eq!((r.created, r.skipped, r.rejected), (2, 0, 0), "{r:?}");
    assert_eq!(count(&t).await, 12);
    let pending = t
        .app
        .customers()
        .search_customers(
            &t.admin,
            CustomerQuery {
                status: Some("pending".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 2);
    let groups = t
        .app
        .customers()
        .duplicate_groups(&t.admin, Default::default())
        .await
        .unwrap();
    assert_eq!(groups.items.len(), 2);
    let queued = job_rows(&t, r.job_id.unwrap(), "review").await;
    assert_eq!(queued.len(), 2);
    // update without a code or source id: a duplicate is skipped, not created.
    let r = run(DuplicatePolicy::Update).await;
    assert_eq!((r.created, r.updated), (0, 0), "{r:?}");
});

// Chunks of one row: a chunk that merges into a customer changes it (its version, its
// match keys) after the chunks before read their candidates; the next duplicate of it
// must still be found and merged into its current version.
both!(merges_across_chunks_meet_the_current_version, |t| {
    import(&t, "customers_gbk.csv", opts("g")).await.unwrap();
    let a = by_name(&t, "北京星河科技").await;
    let b = by_name(&t, "北京云帆贸易").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chunks.csv");
    let (ua, ub) = (a.uscc.unwrap(), b.uscc.unwrap());
    std::fs::write(
        &file,
        format!(
            "客户类型,客户名称,统一社会信用代码,手机,邮箱,标签\n\
             企业客户,北京星河科技股份有限公司,{ua},,a@xinghe.cn,\n\
             企业客户,杭州远航物流有限公司,,13957112345,,\n\
             企业客户,北京星河科技有限公司,{ua},,,重点\n\
             企业客户,北京云帆贸易有限公司,{ub},,b@yunfan.cn,\n\
             企业客户,杭州远航物流股份有限公司,,13957112345,yh@yuanhang.cn,\n"
        ),
    )
    .unwrap();
    let out = t
        .app
        .imports()
        .import_file(
            &t.admin,
            &file,
            ImportOptions {
                policy: DuplicatePolicy::Merge,
                chunk_rows: 1,
                sample_rate: 0.0,
                ..opts("chunks.csv")
            },
            &|_| {},
        )
        .await
        .unwrap();
    // The last row repeats the second (same mobile): a duplicate inside the file.
    let r = out.report;
    assert_eq!(
        (r.read, r.created, r.merged, r.skipped, r.rejected),
        (5, 1, 3, 1, 0),
        "{r:?}"
    );
    assert_eq!(count(&t).await, 11);
    let a = by_name(&t, "北京星河科技").await;
    assert!(
        a.email.is_some() && a.tags.contains(&"重点".to_string()),
        "{a:?}"
    );
    assert!(by_name(&t, "北京云帆贸易").await.email.is_some());
});

const DEMO_HEADER: &str = "客户类型,客户名称,统一社会信用代码,身份证号,手机,地区";

/// `rows` demo customers of `seed` as CSV lines (columns of [`DEMO_HEADER`]).
fn demo_rows(seed: u64, rows: usize) -> Vec<String> {
    let today = chrono::Utc::now().date_naive();
    let mut gen = custos_app::demo_data::DemoCustomers::new(seed, today);
    (0..rows)
        .map(|_| {
            let c = gen.next_customer();
            let kind = if c.customer_type == "enterprise" {
                "企业客户"
            } else {
                "个人客户"
            };
            format!(
                "{kind},{},{},{},{},{}",
                c.name,
                c.uscc.unwrap_or_default(),
                c.id_number.unwrap_or_default(),
                c.mobile.unwrap_or_default(),
                c.region_code.unwrap_or_default()
            )
        })
        .collect()
}

/// A CSV file of [`DEMO_HEADER`] and `lines`.
fn write_demo_csv(path: &std::path::Path, lines: &[String]) {
    std::fs::write(path, format!("{DEMO_HEADER}\n{}\n", lines.join("\n"))).unwrap();
}

// Bulk chunks (100 rows and more) of a file whose every other row is a customer an
// earlier import created: each one is skipped as a duplicate in the database, on SQLite
// with every chunk's lookup rows written aside (as from half a million customers) and
// moved into the main tables now and then.
both!(bulk_chunks_find_every_duplicate, |t| {
    t.db.db.write_lookup_rows_aside_from(0);
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &'static str, lines: Vec<String>| {
        let (app, admin, path) = (t.app.clone(), t.admin.clone(), dir.path().join(name));
        async move {
            write_demo_csv(&path, &lines);
            let o = ImportOptions {
                chunk_rows: 100,
                sample_rate: 0.0,
                ..opts(name)
            };
            app.imports()
                .import_file(&admin, &path, o, &|_| {})
                .await
                .unwrap()
                .report
        }
    };
    let old = demo_rows(31, 300);
    let r = run("first.csv", old.clone()).await;
    // A generated near-twin inside the file may be skipped; it is a duplicate of a
    // stored customer below all the same.
    assert_eq!((r.created + r.skipped, r.rejected), (300, 0), "{r:?}");
    // Rows 0, 2, 4 … again, between customers of another seed.
    let new = demo_rows(32, 150);
    let again: Vec<String> = (0..150)
        .flat_map(|i| [old[2 * i].clone(), new[i].clone()])
        .collect();
    let r = run("again.csv", again).await;
    assert_eq!(
        (r.read, r.created + r.skipped, r.rejected),
        (300, 300, 0),
        "{r:?}"
    );
    // Every row of the first file is skipped (lines 2, 4, 6 …: the header is line 1).
    let skipped: std::collections::HashSet<u64> = job_rows(&t, r.job_id.unwrap(), "skipped")
        .await
        .iter()
        .map(|row| row.line)
        .collect();
    let missed: Vec<u64> = (0..150u64)
        .map(|i| 2 + 2 * i)
        .filter(|l| !skipped.contains(l))
        .collect();
    assert!(
        missed.is_empty(),
        "not found as duplicates: lines {missed:?}"
    );
    assert!(r.created >= 145, "{r:?}");
});

// A file that breaks after several chunks (a row with too many columns after 30 good
// rows): the rows before it are imported — those of the chunk read ahead included — and
// the job fails naming the line.
both!(a_file_breaking_mid_way_keeps_the_rows_before_it, |t| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breaks.csv");
    let mut text = String::from("客户类型,客户名称,地区,手机\n");
    let brands = ["启明", "远航", "恒星", "云帆", "鼎泰", "嘉禾"];
    let trades = ["科技", "贸易", "物流", "咨询", "建材"];
    for i in 0..30 {
        text.push_str(&format!(
            "企业客户,上海{}{}有限公司,上海市徐汇区,139{:08}\n",
            brands[i % 6],
            trades[i / 6],
            (i * 7_919_113 + 1_234_567) % 100_000_000
        ));
    }
    text.push_str(&"x,".repeat(custos_app::import::source::MAX_COLUMNS + 1));
    text.push('\n');
    text.push_str("企业客户,上海之后不读有限公司,上海市徐汇区,13900139999\n");
    std::fs::write(&path, text).unwrap();
    let out = t
        .app
        .imports()
        .import_file(
            &t.admin,
            &path,
            ImportOptions {
                chunk_rows: 7,
                ..opts("breaks.csv")
            },
            &|_| {},
        )
        .await;
    let (_, code) = file_error(out);
    assert_eq!(code, "import.too_many_columns");
    assert_eq!(count(&t).await, 30);
});

/// Import `text` written to `path`, whose one data row is rejected: the outcome and the
/// reported row.
async fn import_one_rejected(
    t: &T,
    path: &std::path::Path,
    text: &str,
) -> (ImportOutcome, Vec<ReportedRow>) {
    std::fs::write(path, text).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let out = t
        .app
        .imports()
        .import_file(&t.admin, path, opts(&name), &|_| {})
        .await
        .unwrap();
    assert_eq!(out.report.rejected, 1, "{:?}", out.report);
    let rejected = job_rows(t, out.report.job_id.unwrap(), "rejected").await;
    (out, rejected)
}

// A value right of the last header (a CSV row shifted by an unquoted comma) refuses its
// row, naming the column and the value; empty cells there are harmless. A required field
// no column maps is reported under its catalog label, and its message names it so.
both!(cells_without_header_and_unmapped_required_fields, |t| {
    let dir = tempfile::tempdir().unwrap();
    let rows = demo_rows(41, 3);
    let lines = vec![
        format!("{},北京市海淀区", rows[0]),
        format!("{},,", rows[1]),
        rows[2].clone(),
    ];
    let path = dir.path().join("shifted.csv");
    write_demo_csv(&path, &lines);
    let out = t
        .app
        .imports()
        .import_file(&t.admin, &path, opts("shifted.csv"), &|_| {})
        .await
        .unwrap();
    let r = &out.report;
    assert_eq!((r.read, r.created, r.rejected), (3, 2, 1), "{r:?}");
    let rejected = job_rows(&t, r.job_id.unwrap(), "rejected").await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].line, 2);
    let e = &rejected[0].detail["errors"][0];
    assert_eq!(e["code"], "import.cell_without_header", "{e}");
    let zh = e["zh"].as_str().unwrap();
    assert!(
        zh.contains("第 7 列") && zh.contains("北京市海淀区"),
        "{zh}"
    );
    assert!(e["en"].as_str().unwrap().contains("column 7"), "{e}");
    assert_eq!(e["header"], "整行", "{e}");
    assert_eq!(count(&t).await, 2);
    let report = dir.path().join("shifted-rejected.csv");
    write_rejected(&report, &out.headers, &rejected).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.lines().next().unwrap().ends_with(",错误:整行"),
        "{text}"
    );

    // No type column: every row is refused for its type, reported under 客户类型.
    let (out, rejected) = import_one_rejected(
        &t,
        &dir.path().join("no-type.csv"),
        "客户名称,统一社会信用代码\n上海某某贸易有限公司,\n",
    )
    .await;
    let e = &rejected[0].detail["errors"][0];
    assert_eq!(
        (e["field"].as_str(), e["header"].as_str()),
        (Some("customer_type"), Some("客户类型")),
        "{e}"
    );
    assert_eq!(e["zh"], "客户类型为必填项（customer_type）");
    assert_eq!(e["en"], "Customer type is required (customer_type)");
    let report = dir.path().join("rejected.csv");
    write_rejected(&report, &out.headers, &rejected).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.lines().next().unwrap().ends_with(",错误:客户类型"),
        "{text}"
    );
});

/// A file of one row with personal data and no customer type: rejected, and kept for
/// the reports.
const ROW_WITHOUT_TYPE: &str = "客户名称,身份证号,手机\n王小明,11010519491231002X,13912345678\n";

// The cells of reported rows (rejected, skipped, sampled) are what the file held,
// personal data included: stored encrypted, read back whole for the reports.
both!(reported_rows_keep_no_personal_data_in_plaintext, |t| {
    let dir = tempfile::tempdir().unwrap();
    // No customer type: the row is rejected and kept for the report.
    let (out, rejected) =
        import_one_rejected(&t, &dir.path().join("pii.csv"), ROW_WITHOUT_TYPE).await;
    assert_eq!(
        rejected[0].cells,
        ["王小明", "11010519491231002X", "13912345678"]
    );
    assert_eq!(rejected[0].line, 2);
    let on_disk = |plain: &'static str| {
        let db = t.app.db.clone();
        async move {
            let path = db.sqlite_path()?.to_path_buf();
            db.execute_raw("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
                bytes.extend(wal);
            }
            Some(bytes.windows(plain.len()).any(|w| w == plain.as_bytes()))
        }
    };
    for plain in ["11010519491231002X", "13912345678", "王小明"] {
        assert_ne!(
            on_disk(plain).await,
            Some(true),
            "database file contains {plain}"
        );
    }
    // A row as versions before this one stored it (plaintext) is encrypted once, at the
    // next start-up, and reads the same.
    let job = out.report.job_id.unwrap();
    let mut tx = t.app.db.begin().await.unwrap();
    tx.seal_import_row(
        job,
        rejected[0].row_no,
        r#"["王小明","11010519491231002X","13912345678"]"#,
        Some(&rejected[0].detail.to_string()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        job_rows(&t, job, "rejected").await[0].cells,
        rejected[0].cells
    );
    assert_ne!(
        on_disk("13912345678").await,
        Some(false),
        "sanity: stored in plaintext"
    );
    assert_eq!(t.app.imports().seal_import_rows().await.unwrap(), 1);
    assert_eq!(t.app.imports().seal_import_rows().await.unwrap(), 0);
    let again = job_rows(&t, job, "rejected").await;
    assert_eq!(
        (&again[0].cells, &again[0].detail),
        (&rejected[0].cells, &rejected[0].detail)
    );
    let mut tx = t.app.db.begin_read().await.unwrap();
    let left = tx.unsealed_import_rows(10).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(left.is_empty(), "{left:?}");
});

#[path = "support/xlsx_bomb.rs"]
mod xlsx_bomb;

#[path = "import/hostile_files.rs"]
mod hostile_files;

#[path = "import/uploads.rs"]
mod uploads;

#[path = "import/template_help.rs"]
mod template_help;

#[path = "import/sample_checks.rs"]
mod sample_checks;

#[path = "import/saved_mappings.rs"]
mod saved_mappings;

#[path = "import/exports.rs"]
mod exports;

#[path = "import/sources.rs"]
mod sources;

#[path = "import/announce.rs"]
mod announce;
