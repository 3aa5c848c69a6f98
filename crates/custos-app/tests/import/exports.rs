//! Exports of the imported customers: every format, the viewer's scope, masking and audit.

use super::*;

both!(export_formats_scope_masking_and_audit, |t| {
    import(&t, "customers_gbk.csv", opts("g")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let q = CustomerQuery {
        customer_type: Some("enterprise".into()),
        ..Default::default()
    };
    for (format, gbk) in [
        (ExportFormat::Csv, false),
        (ExportFormat::Csv, true),
        (ExportFormat::Jsonl, false),
        (ExportFormat::Xlsx, false),
    ] {
        let p = dir.path().join(format!("out{gbk}.{}", format.extension()));
        let n = t
            .app
            .exports()
            .export_customers(&t.admin, q.clone(), ExportOptions { format, gbk }, &p)
            .await
            .unwrap();
        assert_eq!(n, 8, "{format:?}");
        // Every export can be imported again (dry run): same rows, same columns.
        if format != ExportFormat::Jsonl {
            let again = t
                .app
                .imports()
                .import_file(
                    &t.admin,
                    &p,
                    ImportOptions {
                        dry_run: true,
                        ..opts("again")
                    },
                    &|_| {},
                )
                .await
                .unwrap();
            assert_eq!(again.report.read, 8, "{format:?} gbk={gbk}");
            assert!(again
                .report
                .unknown_columns
                .iter()
                .all(|c| c.contains("时间")));
        }
    }
    let gbk = std::fs::read(dir.path().join("outtrue.csv")).unwrap();
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "GBK export is not UTF-8"
    );
    let jsonl = std::fs::read_to_string(dir.path().join("outfalse.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 8);
    let audits = t
        .app
        .audit()
        .list_audit(
            &t.admin,
            AuditFilter {
                action: Some("customer.export".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(audits.len(), 4);
    // A user without `export` gets 403.
    let nobody = Actor {
        permissions: Default::default(),
        ..t.admin.clone()
    };
    let e = t
        .app
        .exports()
        .export_customers(
            &nobody,
            CustomerQuery::default(),
            ExportOptions {
                format: ExportFormat::Csv,
                gbk: false,
            },
            &dir.path().join("x.csv"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403);
});
