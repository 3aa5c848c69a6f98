//! A filled-in import template whose help row was kept: the help row is recognised and
//! skipped (reported as such), the customers below it are imported — from the XLSX and
//! from a CSV saved from it. Reports for a person speak one language and business terms.

use super::*;

/// The template's header and help rows, as the template gives them.
async fn template_rows(t: &T) -> (Vec<String>, Vec<String>) {
    use calamine::{Reader, Xlsx};
    let bytes = t.app.imports().import_template(&t.admin).await.unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("客户").unwrap();
    let mut rows = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<String>>());
    (rows.next().unwrap(), rows.next().unwrap())
}

/// Two customers, cell by cell under the template's headers.
fn filled_rows(headers: &[String]) -> Vec<Vec<String>> {
    let people: [&[(&str, &str)]; 2] = [
        &[
            ("客户类型", "企业客户"),
            ("客户名称", "北京星河科技有限公司"),
            ("统一社会信用代码", "911101051000000209"),
            ("手机", "13800130020"),
        ],
        &[
            ("客户类型", "个人客户"),
            ("客户名称", "王小明"),
            ("身份证号", "11010519491231002X"),
        ],
    ];
    people
        .iter()
        .map(|p| {
            headers
                .iter()
                .map(|h| {
                    p.iter()
                        .find(|(k, _)| k == h)
                        .map(|(_, v)| v.to_string())
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

fn as_xlsx(rows: &[Vec<String>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("客户").unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(r as u32, c as u16, cell).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

fn as_csv(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.into_inner().unwrap()
}

both!(a_kept_template_help_row_is_skipped, |t| {
    let (headers, help) = template_rows(&t).await;
    assert!(
        help.iter().any(|h| h == "必填；企业客户/个人客户"),
        "{help:?}"
    );
    let mut rows = vec![headers.clone(), help];
    rows.extend(filled_rows(&headers));
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("客户.xlsx", as_xlsx(&rows)), ("客户.csv", as_csv(&rows))] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let o = ImportOptions {
            dry_run: true,
            ..opts(name)
        };
        let out = t
            .app
            .imports()
            .import_file(&t.admin, &path, o, &|_| {})
            .await
            .unwrap();
        let r = &out.report;
        assert_eq!(r.help_row, Some(2), "{name}: help row reported");
        assert_eq!(
            (r.read, r.created, r.rejected, r.skipped),
            (2, 2, 0, 0),
            "{name}: only the customers are read"
        );
    }
    // A real job remembers the skipped help row.
    let path = dir.path().join("客户.xlsx");
    let out = t
        .app
        .imports()
        .import_file(&t.admin, &path, opts("客户.xlsx"), &|_| {})
        .await
        .unwrap();
    let job = out.report.job_id.unwrap();
    assert_eq!(out.report.created, 2);
    let stored = t.app.imports().import_job(&t.admin, job).await.unwrap();
    assert_eq!(stored.help_row, Some(2));
});

// A first row that only looks a little like help (one cell) is data, and imported.
both!(a_data_row_is_not_taken_for_help, |t| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.csv");
    std::fs::write(
        &path,
        "客户类型,客户名称,身份证号\n个人客户,name,11010519491231002X\n",
    )
    .unwrap();
    let out = t
        .app
        .imports()
        .import_file(
            &t.admin,
            &path,
            ImportOptions {
                dry_run: true,
                ..opts("a.csv")
            },
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(
        (out.report.help_row, out.report.read, out.report.created),
        (None, 1, 1)
    );
});

// Reports for a person: one language, business terms for stored codes.
both!(reports_speak_one_language_and_business_terms, |t| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.csv");
    std::fs::write(
        &path,
        "客户类型,客户名称,身份证号\n个人客户,王小明,11010519491231002X\n,李四,110101199003070035\n",
    )
    .unwrap();
    let o = ImportOptions {
        sample_rate: 1.0,
        ..opts("b.csv")
    };
    let out = t
        .app
        .imports()
        .import_file(&t.admin, &path, o, &|_| {})
        .await
        .unwrap();
    let job = out.report.job_id.unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let zh = text(
        t.app
            .imports()
            .import_report(&t.admin, job, "rejected", ReportFormat::Csv, Some(Lang::Zh))
            .await
            .unwrap(),
    );
    assert!(zh.contains("客户类型为必填项"), "{zh}");
    assert!(!zh.contains(" / "), "one language: {zh}");
    let en = text(
        t.app
            .imports()
            .import_report(&t.admin, job, "rejected", ReportFormat::Csv, Some(Lang::En))
            .await
            .unwrap(),
    );
    assert!(en.contains("Customer type is required"), "{en}");
    assert!(!en.contains("客户类型为必填项"), "{en}");
    let sample = text(
        t.app
            .imports()
            .import_report(&t.admin, job, "sample", ReportFormat::Csv, Some(Lang::Zh))
            .await
            .unwrap(),
    );
    assert!(sample.contains("个人客户,个人客户,是"), "{sample}");
    assert!(!sample.contains("individual"), "{sample}");
    // The API's files keep codes and both languages.
    let both = text(
        t.app
            .imports()
            .import_report(&t.admin, job, "sample", ReportFormat::Csv, None)
            .await
            .unwrap(),
    );
    assert!(both.contains("individual"), "{both}");
});
