//! Uploads kept sealed until their job ends, UTF-16 and other delimiters, unreadable
//! encodings, and XLSX reports that read back.

use super::*;

/// A file in the upload directory with a name no other test uses.
fn upload_path(t: &T, tag: &str) -> PathBuf {
    let dir = t.app.imports().import_upload_dir();
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{tag}-{:016x}.csv", rand::random::<u64>()))
}

fn holds(path: &std::path::Path, plain: &str) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(plain.len()).any(|w| w == plain.as_bytes())
}

const PII_FILE: &str = "客户类型,客户名称,身份证号,手机\n\
    个人客户,王小明,11010519491231002X,13912345678\n\
    ,李四,110101199003070035,13800138000\n";

/// `text` received as an upload (in pieces, as a server receives it) and prepared.
async fn upload(t: &T, text: &str, o: ImportOptions) -> (PathBuf, PreparedImport) {
    let mut u = t
        .app
        .imports()
        .start_upload(&t.admin, "客户.csv")
        .await
        .unwrap();
    let path = u.path().unwrap().to_path_buf();
    for piece in text.as_bytes().chunks(100) {
        u.write(piece).await.unwrap();
    }
    let prepared = t
        .app
        .imports()
        .prepare_upload(&t.admin, u, o)
        .await
        .unwrap();
    (path, prepared)
}

async fn rejected_csv(t: &T, job: i64) -> String {
    let bytes = t
        .app
        .imports()
        .import_report(&t.admin, job, "rejected", ReportFormat::Csv, None)
        .await
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

// An upload is kept sealed while its job runs (here: a job left running, as by a crash
// before its rows), resumes from the sealed file, and is deleted when the job ends; the
// reports still have the file's headers and cells.
both!(uploads_are_sealed_and_deleted_when_their_job_ends, |t| {
    let (path, prepared) = upload(&t, PII_FILE, opts("客户.csv")).await;
    for plain in ["11010519491231002X", "13800138000", "王小明"] {
        assert!(!holds(&path, plain), "upload holds {plain}");
    }
    let job = prepared.job_id().unwrap();
    drop(prepared);
    t.app.imports().tidy_import_uploads().await.unwrap();
    assert!(path.exists() && sealed::is_sealed(&path).unwrap());
    let out = t
        .app
        .imports()
        .resume_import(&t.admin, job, &|_| {})
        .await
        .unwrap();
    assert_eq!((out.report.created, out.report.rejected), (1, 1));
    assert!(!path.exists(), "the upload of an ended job is deleted");
    assert_eq!(
        t.app
            .imports()
            .import_job_headers(&t.admin, job)
            .await
            .unwrap(),
        ["客户类型", "客户名称", "身份证号", "手机"]
    );
    let csv = rejected_csv(&t, job).await;
    assert!(csv.contains("李四,110101199003070035,13800138000"), "{csv}");

    // A dry run of an upload deletes it too; a file that breaks mid-way (a row of too
    // many columns) ends its job as failed and deletes the upload.
    for (text, dry) in [
        (PII_FILE.to_string(), true),
        (
            format!("{PII_FILE}{}{}\n", ",某公司\n".repeat(12), ",x".repeat(600)),
            false,
        ),
    ] {
        let o = ImportOptions {
            dry_run: dry,
            ..opts("客户.csv")
        };
        let (path, prepared) = upload(&t, &text, o).await;
        let job = prepared.job_id();
        let out = t
            .app
            .imports()
            .run_import(&t.admin, prepared, &|_| {})
            .await;
        assert_eq!(out.is_ok(), dry, "{:?}", out.err());
        if let Some(job) = job {
            let r = t.app.imports().import_job(&t.admin, job).await.unwrap();
            assert_eq!(r.status, "failed");
        }
        assert!(!path.exists(), "dry run {dry}: upload left behind");
    }

    // Only an upload is deleted: a caller's own file marked as one stays.
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.csv");
    std::fs::write(&own, PII_FILE).unwrap();
    let o = ImportOptions {
        uploaded: true,
        ..opts("own.csv")
    };
    t.app
        .imports()
        .import_file(&t.admin, &own, o, &|_| {})
        .await
        .unwrap();
    assert!(own.exists(), "a caller's file was deleted");
});

// Uploads that earlier versions kept in plaintext: a running job's file is sealed in
// place at start-up and its job resumes from it (and deletes it at the end); an ended
// job's file is deleted after its headers are stored with the job; a plaintext file of
// no job is deleted.
both!(
    plaintext_uploads_of_earlier_versions_are_sealed_or_deleted,
    |t| {
        // Jobs as earlier versions stored them: no headers, not marked as uploads.
        let as_old = |job: i64| {
            let db = t.app.db.clone();
            async move {
                let mut tx = db.begin().await.unwrap();
                let row = tx.import_job(job).await.unwrap().unwrap();
                let mut v: serde_json::Value = serde_json::from_str(&row.options).unwrap();
                v.as_object_mut().unwrap().remove("headers");
                v["options"].as_object_mut().unwrap().remove("uploaded");
                tx.set_import_job_options(job, &v.to_string())
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        };
        let running = upload_path(&t, "running");
        std::fs::write(&running, PII_FILE).unwrap();
        let prepared = t
            .app
            .imports()
            .prepare_import(&t.admin, &running, opts("a.csv"))
            .await
            .unwrap();
        let running_job = prepared.job_id().unwrap();
        drop(prepared);
        as_old(running_job).await;

        let ended = upload_path(&t, "ended");
        std::fs::write(&ended, PII_FILE).unwrap();
        let out = t
            .app
            .imports()
            .import_file(&t.admin, &ended, opts("b.csv"), &|_| {})
            .await
            .unwrap();
        let ended_job = out.report.job_id.unwrap();
        assert!(
            ended.exists(),
            "a job not marked as an upload keeps its file"
        );
        as_old(ended_job).await;

        let orphan = upload_path(&t, "orphan");
        std::fs::write(&orphan, PII_FILE).unwrap();

        let (sealed_n, deleted_n) = t.app.imports().tidy_import_uploads().await.unwrap();
        assert!(sealed_n >= 1 && deleted_n >= 2, "{sealed_n} {deleted_n}");
        assert!(!ended.exists() && !orphan.exists());
        assert!(sealed::is_sealed(&running).unwrap());
        assert!(!holds(&running, "11010519491231002X"));
        // The ended job's report reads its headers from the job now.
        let csv = rejected_csv(&t, ended_job).await;
        assert!(
            csv.lines()
                .next()
                .unwrap()
                .contains("客户类型,客户名称,身份证号,手机"),
            "{csv}"
        );
        // The running job resumes from the sealed file (same content digest) and, now
        // known as an upload, deletes it when it ends.
        let out = t
            .app
            .imports()
            .resume_import(&t.admin, running_job, &|_| {})
            .await
            .unwrap();
        assert_eq!(out.report.status, "done");
        assert_eq!(out.report.rejected, 1);
        assert!(!running.exists());
        // Nothing is left to do at the next start-up.
        let again = t.app.imports().tidy_import_uploads().await.unwrap();
        assert_eq!(again.0, 0);
    }
);

// Excel's "Unicode 文本": UTF-16 with a BOM, tab-separated, found without options. A
// semicolon file (Excel where the comma is the decimal mark) with a title row and commas
// inside cells is read by its semicolons; a forced delimiter wins over the detected one.
both!(utf16_text_and_other_delimiters, |t| {
    let out = import(&t, "customers_utf16.txt", opts("customers_utf16.txt"))
        .await
        .unwrap();
    let r = &out.report;
    assert_eq!(
        (r.encoding.as_deref(), r.delimiter.as_deref()),
        (Some("utf-16le"), Some("tab"))
    );
    assert_eq!((r.read, r.created, r.rejected), (10, 10, 0), "{r:?}");
    assert_eq!(r.columns[0].field.as_deref(), Some("customer_type"));

    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = demo_rows(43, 3)
        .iter()
        .map(|r| r.replace(',', ";"))
        .collect();
    let header = DEMO_HEADER.replace(',', ";");
    let path = dir.path().join("semicolons.csv");
    std::fs::write(
        &path,
        format!(
            "客户名单, 2026 年 (内部, 勿外传)\n{header};备注\n{}\n",
            rows.iter()
                .map(|r| format!("{r};\"一, 二; 三\""))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    )
    .unwrap();
    let o = ImportOptions {
        mapping: MappingSpec::parse("[columns]\n\"备注\" = \"remarks\"\n").unwrap(),
        ..opts("semicolons.csv")
    };
    let out = t
        .app
        .imports()
        .import_file(&t.admin, &path, o.clone(), &|_| {})
        .await
        .unwrap();
    let r = &out.report;
    assert_eq!(r.delimiter.as_deref(), Some(";"));
    assert_eq!((r.header_row, r.created, r.rejected), (2, 3, 0), "{r:?}");
    let name = demo_rows(43, 1)[0].split(',').nth(1).unwrap().to_string();
    assert_eq!(
        by_name(&t, &name).await.remarks.as_deref(),
        Some("一, 二; 三")
    );
    // Forced to commas, the same file has no recognisable header.
    let forced = ImportOptions {
        delimiter: Some(','),
        ..o
    };
    let (_, code) = file_error(
        t.app
            .imports()
            .import_file(&t.admin, &path, forced, &|_| {})
            .await,
    );
    assert_eq!(code, "import.column_missing");
});

// Bad encodings and delimiters are refused before anything is written, naming the rule.
both!(bad_utf16_and_unknown_delimiters_are_refused, |t| {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("customers_utf16.txt")).unwrap();
    // Cut in the middle of a UTF-16 code unit.
    let cut = dir.path().join("cut.txt");
    std::fs::write(&cut, &good[..good.len() - 1]).unwrap();
    // An unpaired surrogate.
    let mut bytes = good.clone();
    bytes.extend([0x00, 0xD8, 0x41, 0x00]);
    let lone = dir.path().join("lone.txt");
    std::fs::write(&lone, bytes).unwrap();
    for path in [&cut, &lone] {
        let (field, code) = file_error(
            t.app
                .imports()
                .import_file(&t.admin, path, opts("u"), &|_| {})
                .await,
        );
        assert_eq!(
            (field.as_str(), code.as_str()),
            ("file", "import.encoding_invalid")
        );
    }
    // Forced to GBK, a UTF-16 file is binary (NUL bytes).
    let o = ImportOptions {
        encoding: Some(TextEncoding::Gb18030),
        ..opts("g")
    };
    let (_, code) = file_error(import(&t, "customers_utf16.txt", o).await);
    assert_eq!(code, "import.encoding_invalid");
    assert_eq!(count(&t).await, 0);
    // A delimiter given by a program, not parsed from a name, is checked the same way.
    let o = ImportOptions {
        delimiter: Some('中'),
        ..opts("d")
    };
    let (field, code) = file_error(import(&t, "customers_gbk.csv", o).await);
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("delimiter", "import.delimiter_unknown")
    );
    for bad in ["colon", ":", ""] {
        match custos_app::import::source::parse_delimiter(bad) {
            Err(AppError::Validation(f)) => {
                assert_eq!(f[0].field, "delimiter");
                assert_eq!(f[0].violation.code, "import.delimiter_unknown");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    for (text, want) in [
        ("tab", '\t'),
        ("\t", '\t'),
        ("\\t", '\t'),
        (";", ';'),
        ("Pipe", '|'),
    ] {
        assert_eq!(
            custos_app::import::source::parse_delimiter(text).unwrap(),
            want
        );
    }
    assert!(TextEncoding::parse("unicode").is_ok() && TextEncoding::parse("utf-32").is_err());
});

// Reports as XLSX — in memory for the API, to a file for the command line — read back
// with the original cells and the reason column, sheet by sheet as Excel would.
both!(xlsx_reports_read_back, |t| {
    use calamine::{Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    let (out, rejected) =
        import_one_rejected(&t, &dir.path().join("r.csv"), ROW_WITHOUT_TYPE).await;
    let job = out.report.job_id.unwrap();
    let bytes = t
        .app
        .imports()
        .import_report(&t.admin, job, "rejected", ReportFormat::Xlsx, None)
        .await
        .unwrap();
    let file = dir.path().join("rejected.xlsx");
    write_rejected(&file, &out.headers, &rejected).unwrap();
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "file and memory differ"
    );
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), ["报告"]);
    let range = book.worksheet_range("报告").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows[0],
        ["原行号", "客户名称", "身份证号", "手机", "错误:客户类型"]
    );
    assert_eq!(
        rows[1][..4],
        ["2", "王小明", "11010519491231002X", "13912345678"]
    );
    assert!(rows[1][4].contains("客户类型为必填项"), "{:?}", rows[1]);
    // A table of a header only, or of no rows at all, is still a workbook.
    for header in [vec!["a"], vec![]] {
        let mut w = custos_app::import::report::TableWriter::in_memory(ReportFormat::Xlsx).unwrap();
        if !header.is_empty() {
            w.write_row(&header).unwrap();
        }
        let bytes = w.finish().unwrap();
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("报告").unwrap();
        assert_eq!(range.rows().count(), header.len());
    }
});
