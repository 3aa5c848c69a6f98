//! 导入 in a real browser: a steward uploads a file with one bad row, goes through the
//! mapping step and the dry run (the rejected row shown), runs the import, downloads the
//! rejected rows as XLSX, fixes the row and imports the corrected file; the customer of
//! the fixed row then exists.

use std::io::Cursor;
use std::path::Path;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};

use crate::browser::Browser;
use crate::customers::seed_rules;
use crate::helpers::*;

/// The second row has no customer type: rejected.
const FILE: &str =
    "客户类型,客户名称,身份证号\n个人客户,王小明,11010519491231002X\n,李四,110101199003070038\n";

/// Upload `path` on the first step, leading to the mapping step.
async fn upload(b: &Browser, path: &Path) {
    b.goto("/imports/new").await;
    b.wait_for("#file")
        .await
        .send_keys(path.to_str().expect("utf-8 path"))
        .await
        .expect("choose the file");
    b.click("#upload-file").await;
    b.wait_for("#mapping-table").await;
}

/// Start the import from the mapping step and wait for its report; the job's path.
async fn run(b: &Browser) -> String {
    b.click("#start-import").await;
    b.wait_for("#import-status").await;
    for _ in 0..200 {
        if b.client
            .find(fantoccini::Locator::Css("[data-status=\"done\"]"))
            .await
            .is_ok()
        {
            b.wait_for("#import-totals").await;
            return b.path().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.fail("the import did not end").await
}

/// Fetch `path` with the browser's session cookie.
async fn fetch(b: &Browser, path: &str) -> Vec<u8> {
    let cookies = b
        .client
        .get_all_cookies()
        .await
        .expect("cookies")
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ");
    let r = reqwest::Client::new()
        .get(format!("{}{path}", b.base))
        .header(reqwest::header::COOKIE, cookies)
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), 200, "{path}");
    r.bytes().await.expect("body").to_vec()
}

/// The rejected rows' XLSX with the empty 客户类型 cells filled in, as CSV: the same
/// columns (`原行号` and the `错误:` columns are recognised and left out on re-import).
fn corrected_csv(xlsx: Vec<u8>) -> String {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx)).expect("an XLSX");
    let range = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    let mut rows = range.rows();
    let head: Vec<String> = rows
        .next()
        .expect("a header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    let ty = head
        .iter()
        .position(|h| h == "客户类型")
        .unwrap_or_else(|| panic!("no 客户类型 column in {head:?}"));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&head).unwrap();
    let mut n = 0;
    for row in rows {
        let mut cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Data::Empty => String::new(),
                c => c.to_string(),
            })
            .collect();
        cells.resize(head.len(), String::new());
        assert!(cells.contains(&"李四".to_string()), "{cells:?}");
        cells[ty] = "个人客户".into();
        out.write_record(&cells).unwrap();
        n += 1;
    }
    assert_eq!(n, 1, "one rejected row");
    String::from_utf8(out.into_inner().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_row_is_downloaded_fixed_and_imported_again() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let Some(b) = Browser::start("imports", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("客户.csv");
    std::fs::write(&first, FILE).unwrap();
    b.login("admin", ADMIN_PASSWORD).await;

    upload(&b, &first).await;
    b.expect_text("#detected-encoding", "utf-8", "the detected encoding")
        .await;
    // Every created row into the sample for checking (抽查).
    b.fill("#sample_rate", "1").await;
    b.document("import-mapping").await;
    b.click("#dry-run").await;
    b.wait_for("#rejected-table").await;
    b.expect_text("[data-total=\"imports.rejected\"]", "1", "one row rejected")
        .await;
    b.expect_text_containing("#rejected-table", "客户类型为必填项", "the reason")
        .await;
    b.expect_text_containing("#rejected-table .cell-error", "", "the failing cell")
        .await;
    b.document("import-dry-run").await;

    let job = run(&b).await;
    b.expect_text("[data-total=\"imports.created\"]", "1", "one created")
        .await;
    // The steward checks the sampled row against the stored customer.
    b.expect_text("#checked-count", "0 / 1", "nothing checked yet")
        .await;
    b.click("#check-1").await;
    b.expect_text("#checked-count", "1 / 1", "the row checked")
        .await;
    b.expect_text_containing("#sample-1 .sample-check", "admin", "who checked it")
        .await;
    b.document("import-report").await;
    let href = b
        .wait_for("#download-rejected")
        .await
        .attr("href")
        .await
        .unwrap()
        .expect("a link");
    assert_eq!(href, format!("{job}/rejected.xlsx"));
    let fixed = corrected_csv(fetch(&b, &href).await);
    let second = dir.path().join("客户-修正.csv");
    std::fs::write(&second, fixed).unwrap();

    upload(&b, &second).await;
    run(&b).await;
    b.expect_text("[data-total=\"imports.created\"]", "1", "the fixed row")
        .await;
    b.expect_text("[data-total=\"imports.rejected\"]", "0", "nothing rejected")
        .await;
    let found = body(
        t.get("/api/v1/customers?name=李四&total=true", &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(found["total"], 1, "{found}");
    b.close().await;
    t.stop().await;
}
