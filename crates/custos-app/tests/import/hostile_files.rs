//! Files made to hurt: XLSX zip bombs, CSV quotes never closed, lines without end, and
//! cells that a spreadsheet would run as formulas.

use std::time::{Duration, Instant};

use custos_app::import::ImportLimits;

use super::xlsx_bomb::{inline_string_bomb, shared_string_bomb, sheet_bomb, workbook, Part};
use super::*;

/// The app of `t` with other import limits (same database and key).
fn with_limits(t: &T, limits: ImportLimits) -> App {
    App::from_db(
        t.db.db.clone(),
        AppConfig {
            import_limits: limits,
            ..(*t.app.config).clone()
        },
    )
}

/// Small limits, so that a bomb 50 times over them stays small for the test.
const SMALL: ImportLimits = ImportLimits {
    row_bytes: 64 << 10,
    xlsx_cell_bytes: 64 << 10,
    xlsx_sheet_bytes: 1 << 20,
    xlsx_part_bytes: 1 << 20,
    xlsx_total_bytes: 4 << 20,
    xlsx_shared_strings: 1_000,
    xlsx_merged_cells: 10,
};

/// A sheet: header row, `head`, `body` × `times`, `tail`, end of the sheet.
fn sheet(head: &str, body: &str, times: u64, tail: &str) -> Part {
    Part {
        name: String::new(),
        head: format!("{}{head}", super::xlsx_bomb::sheet_head()),
        body: body.into(),
        times,
        tail: format!("{tail}{}", super::xlsx_bomb::SHEET_TAIL),
        declared: None,
    }
}

/// The file-level refusal of `r`: code, Chinese and English messages.
fn refusal(r: Result<ImportOutcome, AppError>) -> (String, String, String) {
    match r {
        Err(AppError::Validation(f)) => {
            assert_eq!(f[0].field, "file");
            let v = &f[0].violation;
            (v.code.clone(), v.zh.clone(), v.en.clone())
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(o) => panic!("a hostile file was accepted: {:?}", o.report),
    }
}

async fn import_bytes(
    app: &App,
    t: &T,
    dir: &std::path::Path,
    name: &str,
    bytes: &[u8],
) -> Result<ImportOutcome, AppError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    app.imports()
        .import_file(&t.admin, &path, opts(name), &|_| {})
        .await
}

// An XLSX whose one shared string, one inline string or one sheet unpacks to 50 times
// a bound is refused before anything is written, naming the part, the cell and the
// bound; a workbook made the same way within the bounds imports.
both!(xlsx_bombs_are_refused_naming_part_cell_and_bound, |t| {
    let app = with_limits(&t, SMALL);
    let dir = tempfile::tempdir().unwrap();
    let a64k = "A".repeat(64 << 10);
    let cases = [
        (
            "shared.xlsx",
            shared_string_bomb(&a64k, 50),
            "import.xlsx_cell_too_large",
            "shared string #1 in part xl/sharedStrings.xml",
            "64 KiB",
        ),
        (
            "inline.xlsx",
            inline_string_bomb(&a64k, 50),
            "import.xlsx_cell_too_large",
            "cell B2 in part xl/worksheets/sheet1.xml",
            "64 KiB",
        ),
        (
            // Rows of small cells, declaring 1,000 bytes: the real count is what counts.
            "sheet.xlsx",
            sheet_bomb(
                &r#"<row r="3"><c r="A3" t="inlineStr"><is><t>企业客户</t></is></c></row>"#
                    .repeat(1000),
                800,
                Some(1000),
            ),
            "import.xlsx_part_too_large",
            "part xl/worksheets/sheet1.xml",
            "1 MiB",
        ),
    ];
    let more = [
        (
            "row.xlsx",
            workbook(
                sheet(
                    r#"<row r="2">"#,
                    &r#"<c t="inlineStr"><is><t>甲</t></is></c>"#.repeat(1000),
                    80,
                    "</row>",
                ),
                None,
            ),
            "import.xlsx_row_too_large",
            "row 2 in part xl/worksheets/sheet1.xml",
            "64 KiB",
        ),
        (
            "strings.xlsx",
            workbook(
                sheet("", "", 0, ""),
                Some(Part {
                    name: String::new(),
                    head: "<sst>".into(),
                    body: "<si><t>甲</t></si>".repeat(1000),
                    times: 50,
                    tail: "</sst>".into(),
                    declared: None,
                }),
            ),
            "import.xlsx_too_many_shared_strings",
            "more than 1000 shared strings",
            "xl/sharedStrings.xml",
        ),
        (
            "merged.xlsx",
            workbook(
                Part {
                    name: String::new(),
                    head: format!("{}</sheetData><mergeCells>", super::xlsx_bomb::sheet_head()),
                    body: r#"<mergeCell ref="A1:B1"/>"#.repeat(50),
                    times: 10,
                    tail: "</mergeCells></worksheet>".into(),
                    declared: None,
                },
                None,
            ),
            "import.xlsx_too_many_merged_cells",
            "more than 10 merged cells",
            "xl/worksheets/sheet1.xml",
        ),
    ];
    for (name, bytes, code, what, bound) in cases.into_iter().chain(more) {
        assert!(bytes.len() < 1 << 20, "{name}: {} bytes", bytes.len());
        let started = Instant::now();
        let (c, zh, en) = refusal(import_bytes(&app, &t, dir.path(), name, &bytes).await);
        assert!(started.elapsed() < Duration::from_secs(10), "{name}: slow");
        assert_eq!(c, code, "{name}: {en}");
        assert!(en.contains(what) && en.contains(bound), "{name}: {en}");
        assert!(zh.contains("超过") && zh.contains(bound), "{name}: {zh}");
    }
    // Parts within their bounds but over the total together.
    let app_total = with_limits(
        &t,
        ImportLimits {
            xlsx_total_bytes: 1 << 20,
            xlsx_shared_strings: 1 << 20,
            ..SMALL
        },
    );
    let half = Part {
        name: String::new(),
        head: super::xlsx_bomb::sheet_head(),
        body: r#"<row r="3"><c r="A3"><v>1</v></c></row>"#.repeat(1000),
        times: 20,
        tail: super::xlsx_bomb::SHEET_TAIL.into(),
        declared: None,
    };
    let strings = Part {
        name: String::new(),
        head: r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#.into(),
        body: "<si><t>甲</t></si>".repeat(1000),
        times: 40,
        tail: "</sst>".into(),
        declared: None,
    };
    let bytes = workbook(half, Some(strings));
    let (c, _, en) = refusal(import_bytes(&app_total, &t, dir.path(), "total.xlsx", &bytes).await);
    assert_eq!(c, "import.xlsx_too_large", "{en}");
    assert!(en.contains("1 MiB in all"), "{en}");
    assert_eq!(count(&t).await, 0);

    // The same construction within every bound imports its row.
    let ok = shared_string_bomb("上海启明科技有限公司", 1);
    let out = import_bytes(&app, &t, dir.path(), "ok.xlsx", &ok)
        .await
        .unwrap();
    assert_eq!(
        (out.report.created, out.report.rejected),
        (1, 0),
        "{:?}",
        out.report
    );
});

/// Peak resident memory of this test process (bytes).
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

// With the default bounds: a 1 GiB name in a sheet of about a megabyte is refused as soon
// as 1 MiB of it is unpacked, without reading it into memory.
both!(a_gigabyte_cell_is_refused_with_default_limits, |t| {
    let dir = tempfile::tempdir().unwrap();
    let bytes = inline_string_bomb(&"A".repeat(1 << 20), 1024);
    assert!(bytes.len() < 4 << 20, "{} bytes", bytes.len());
    let started = Instant::now();
    let (c, _, en) = refusal(import_bytes(&t.app, &t, dir.path(), "gib.xlsx", &bytes).await);
    assert!(started.elapsed() < Duration::from_secs(10), "slow");
    assert_eq!(c, "import.xlsx_cell_too_large");
    assert!(en.contains("cell B2") && en.contains("1 MiB"), "{en}");
    assert!(
        peak_memory() < 1 << 30,
        "peak memory {} bytes",
        peak_memory()
    );
    assert_eq!(count(&t).await, 0);
});

// Cells of type `s` index the shared-string table; the XLSX library indexes it without a
// bounds check, so an index past the table (found by the xlsx_reader fuzz target) or an
// `si` without text (which the library skips, shifting every later index) would panic in
// the reader thread. Both are refused as malformed before the library reads the file;
// the same sheet with a sound table imports.
both!(shared_string_indexes_outside_the_table_are_refused, |t| {
    let dir = tempfile::tempdir().unwrap();
    let book = |index: &str, table: &str| {
        workbook(
            Part::plain(
                "",
                &format!(
                    r#"{}<row r="2"><c r="A2" t="inlineStr"><is><t>企业客户</t></is></c><c r="B2" t="s"><v>{index}</v></c></row>{}"#,
                    super::xlsx_bomb::sheet_head(),
                    super::xlsx_bomb::SHEET_TAIL
                ),
            ),
            Some(Part::plain(
                "",
                &format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{table}</sst>"#
                ),
            )),
        )
    };
    let past_the_end = book("5", "<si><t>成都天府软件有限公司</t></si>");
    let (c, _, en) =
        refusal(import_bytes(&t.app, &t, dir.path(), "index.xlsx", &past_the_end).await);
    assert_eq!(c, "import.xlsx_malformed");
    assert!(
        en.contains("cell B2") && en.contains("shared string 5"),
        "{en}"
    );
    let skipped = book("1", "<si></si><si><t>成都天府软件有限公司</t></si>");
    let (c, _, en) = refusal(import_bytes(&t.app, &t, dir.path(), "skipped.xlsx", &skipped).await);
    assert_eq!(c, "import.xlsx_malformed");
    assert!(en.contains("no text"), "{en}");
    assert_eq!(count(&t).await, 0);
    let sound = book("0", "<si><t>成都天府软件有限公司</t></si>");
    let o = import_bytes(&t.app, &t, dir.path(), "sound.xlsx", &sound)
        .await
        .unwrap();
    assert_eq!(o.report.created, 1, "{:?}", o.report);
});

const GOOD_ROWS: &str = "客户类型,客户名称,地区\n\
    企业客户,上海启明科技有限公司,上海市徐汇区\n\
    企业客户,上海远航贸易有限公司,上海市徐汇区\n";

// A quote never closed fails the job naming the line it opened on; the rows before it
// stay imported, the rest of the file is not folded into a row. Within the first rows
// (those the header is looked for in) it refuses the file before any job.
both!(an_unclosed_quote_fails_the_job_naming_its_line, |t| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quote.csv");
    let mut lines = demo_rows(7, 12);
    lines.push("企业客户,\"上海恒星物流有限公司,,,,310104".into());
    lines.extend(demo_rows(8, 3));
    write_demo_csv(&path, &lines);
    let prepared = t
        .app
        .imports()
        .prepare_import(&t.admin, &path, opts("quote.csv"))
        .await
        .unwrap();
    let job = prepared.job_id().unwrap();
    let (code, zh, en) = refusal(
        t.app
            .imports()
            .run_import(&t.admin, prepared, &|_| {})
            .await,
    );
    assert_eq!(code, "import.csv_unclosed_quote");
    assert!(
        en.contains("quote opened on CSV line 14 is not closed"),
        "{en}"
    );
    assert!(zh.contains("第 14 行的引号"), "{zh}");
    let r = t.app.imports().import_job(&t.admin, job).await.unwrap();
    assert_eq!(r.status, "failed");
    assert!(
        r.error.as_deref().unwrap_or("").contains("line 14"),
        "{r:?}"
    );
    assert_eq!(r.read, 12, "{r:?}");
    assert_eq!(count(&t).await, r.created);
    assert!(r.created >= 10, "{r:?}");

    let early = dir.path().join("early.csv");
    std::fs::write(
        &early,
        format!("{GOOD_ROWS}企业客户,\"上海恒星物流有限公司,上海市徐汇区\n{GOOD_ROWS}"),
    )
    .unwrap();
    let (code, _, en) = refusal(
        t.app
            .imports()
            .import_file(&t.admin, &early, opts("early.csv"), &|_| {})
            .await,
    );
    assert_eq!(code, "import.csv_unclosed_quote");
    assert!(en.contains("line 4"), "{en}");
});

// A line that never ends (no line break for 50 times the bound) fails the job naming
// where it started, before it is read whole; so does a quote open past the bound.
both!(a_line_without_end_is_refused_at_the_bound, |t| {
    let app = with_limits(&t, SMALL);
    let dir = tempfile::tempdir().unwrap();
    let long = "长".repeat((64 << 10) * 50 / 3);
    for (name, text, code, what) in [
        (
            "long.csv",
            format!("{GOOD_ROWS}企业客户,{long}"),
            "import.csv_record_too_long",
            "starting on line 4 is longer than 64 KiB",
        ),
        (
            "open.csv",
            format!("{GOOD_ROWS}企业客户,\"{}", "上海,\n".repeat(200_000)),
            "import.csv_unclosed_quote",
            "quote opened on CSV line 4 is not closed within 64 KiB",
        ),
    ] {
        let (c, _, en) = refusal(import_bytes(&app, &t, dir.path(), name, text.as_bytes()).await);
        assert_eq!(c, code, "{name}: {en}");
        assert!(en.contains(what), "{name}: {en}");
    }
});

/// Names and values a spreadsheet would run as formulas.
const FORMULA_ROWS: &str = "客户类型,客户名称,地区,地址\n\
    企业客户,=cmd|' /C calc'!A0,上海市徐汇区,-1号楼\n\
    企业客户,@SUM(1+1)有限公司,上海市徐汇区,+86 路\n\
    企业客户,''=已有引号有限公司,上海市徐汇区,普通地址\n";

// CSV exports (UTF-8 and GBK) and import reports put a quote before a cell a spreadsheet
// would run, XLSX holds them as strings, JSON Lines as they are; the stored values do not
// change, and importing the export again gives them back.
both!(csv_cells_are_guarded_against_formulas_and_read_back, |t| {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("formulas.csv");
    std::fs::write(&src, FORMULA_ROWS).unwrap();
    let out = t
        .app
        .imports()
        .import_file(&t.admin, &src, opts("formulas.csv"), &|_| {})
        .await
        .unwrap();
    assert_eq!(out.report.created, 3, "{:?}", out.report);
    // A quote before a formula is taken off as the one an export adds (as Excel does
    // when such a cell is typed): `''=…` is stored as `'=…`.
    let c = by_name(&t, "=cmd|' /C calc'!A0").await;
    assert_eq!(c.address.as_deref(), Some("-1号楼"));
    by_name(&t, "'=已有引号有限公司").await;

    let export = |format, gbk| {
        let p = dir
            .path()
            .join(format!("e{gbk}.{}", ExportFormat::extension(format)));
        (p, ExportOptions { format, gbk })
    };
    for gbk in [false, true] {
        let (p, o) = export(ExportFormat::Csv, gbk);
        t.app
            .exports()
            .export_customers(&t.admin, CustomerQuery::default(), o, &p)
            .await
            .unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let text = if gbk {
            encoding_rs::GB18030.decode(&bytes).0.into_owned()
        } else {
            String::from_utf8(bytes).unwrap()
        };
        for cell in [
            ",'=cmd|' /C calc'!A0,",
            ",'@SUM(1+1)有限公司,",
            ",''=已有引号有限公司,",
            ",'-1号楼,",
            ",'+86 路,",
        ] {
            assert!(text.contains(cell), "gbk={gbk}: {cell} not in {text}");
        }
        // Importing the export again (updating by code) keeps every value.
        let again = t
            .app
            .imports()
            .import_file(
                &t.admin,
                &p,
                ImportOptions {
                    policy: DuplicatePolicy::Update,
                    ..opts("again.csv")
                },
                &|_| {},
            )
            .await
            .unwrap();
        assert_eq!(again.report.rejected, 0, "{:?}", again.report);
        let c = by_name(&t, "=cmd|' /C calc'!A0").await;
        assert_eq!(c.address.as_deref(), Some("-1号楼"));
        by_name(&t, "@SUM(1+1)有限公司").await;
        by_name(&t, "'=已有引号有限公司").await;
    }
    // XLSX: strings, never formulas.
    let (p, o) = export(ExportFormat::Xlsx, false);
    t.app
        .exports()
        .export_customers(&t.admin, CustomerQuery::default(), o, &p)
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&p).unwrap()).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    assert!(!sheet.contains("<f"), "a formula in {sheet}");
    assert!(sheet.contains("t=\"inlineStr\"><is><t>=cmd|"), "{sheet}");
    // JSON Lines: a machine format, as stored.
    let (p, o) = export(ExportFormat::Jsonl, false);
    t.app
        .exports()
        .export_customers(&t.admin, CustomerQuery::default(), o, &p)
        .await
        .unwrap();
    assert!(std::fs::read_to_string(&p)
        .unwrap()
        .contains("\"name\":\"=cmd|' /C calc'!A0\""));

    // Rejected rows: guarded in the CSV report, read back as they were.
    let bad = dir.path().join("bad.csv");
    let (out, rejected) =
        import_one_rejected(&t, &bad, "客户名称,地区\n=HYPERLINK(\"x\"),上海市徐汇区\n").await;
    let report = dir.path().join("rejected.csv");
    write_rejected(&report, &out.headers, &rejected).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{text}");
    let again = t
        .app
        .imports()
        .import_file(
            &t.admin,
            &report,
            ImportOptions {
                dry_run: true,
                ..opts("rejected.csv")
            },
            &|_| {},
        )
        .await
        .unwrap();
    let row = &again.rows[0];
    assert_eq!(row.cells[1], "=HYPERLINK(\"x\")", "{:?}", row.cells);
});
